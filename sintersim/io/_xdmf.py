"""XDMF sidecar (``run.xmf``) so ParaView/VisIt open ``run.h5`` as a time series.

One temporal collection of uniform grids; each frame's attributes are hyperslabs into the
``(T, ...)`` datasets, so nothing is duplicated. Rewritten (atomically) after every save, so a
half-finished run opens too.
"""

from __future__ import annotations

import os
from pathlib import Path


def _dims(shape) -> str:
    return " ".join(str(n) for n in shape)


def write_xdmf(
    path: Path,
    h5_name: str,
    times_s,
    shape: tuple[int, ...],
    n_fields: int,
    spacing_nm: float,
    precision: int,
    grain_ids: bool = False,
) -> None:
    """Write ``path`` describing frames ``0..len(times_s)-1`` of ``h5_name``.

    XDMF orders axes slowest-first, as our arrays are stored (axis 0 = x is slowest), so the
    mesh dimensions, origin and spacing are given in array order; lengths are in nm.
    """
    nd = len(shape)
    topo = "3DCoRectMesh" if nd == 3 else "2DCoRectMesh"
    geom = "ORIGIN_DXDYDZ" if nd == 3 else "ORIGIN_DXDY"
    n_t = len(times_s)
    lines = [
        '<?xml version="1.0" ?>',
        '<Xdmf Version="3.0">',
        "  <Domain>",
        '    <Grid Name="run" GridType="Collection" CollectionType="Temporal">',
    ]
    for i, t in enumerate(times_s):
        lines += [
            f'      <Grid Name="frame{i}" GridType="Uniform">',
            f'        <Time Value="{float(t):.9g}"/>',
            f'        <Topology TopologyType="{topo}" Dimensions="{_dims(shape)}"/>',
            f'        <Geometry GeometryType="{geom}">',
            f'          <DataItem Dimensions="{nd}" Format="XML">{" ".join(["0"] * nd)}</DataItem>',
            f'          <DataItem Dimensions="{nd}" Format="XML">'
            f"{' '.join([repr(float(spacing_nm))] * nd)}</DataItem>",
            "        </Geometry>",
        ]
        fields = [("rho", "fields/rho", None)]
        fields += [(f"eta{j + 1}", "fields/eta", j) for j in range(n_fields)]
        if grain_ids:  # ParaView colours by it (Int, -1 where there is no grain)
            fields.append(("grain_id", "fields/grain_id", None))
        for name, ds, j in fields:
            number = (
                'NumberType="Int" Precision="4"'
                if name == "grain_id"
                else (f'NumberType="Float" Precision="{precision}"')
            )
            full = (n_t, *shape) if j is None else (n_t, n_fields, *shape)
            start = (i, *([0] * nd)) if j is None else (i, j, *([0] * nd))
            count = (1, *shape) if j is None else (1, 1, *shape)
            rank = len(full)
            lines += [
                f'        <Attribute Name="{name}" AttributeType="Scalar" Center="Node">',
                f'          <DataItem ItemType="HyperSlab" Dimensions="{_dims(shape)}" '
                'Type="HyperSlab">',
                f'            <DataItem Dimensions="3 {rank}" Format="XML">'
                f"{_dims(start)} {_dims([1] * rank)} {_dims(count)}</DataItem>",
                f'            <DataItem Dimensions="{_dims(full)}" {number} '
                f'Format="HDF">{h5_name}:/{ds}</DataItem>',
                "          </DataItem>",
                "        </Attribute>",
            ]
        lines.append("      </Grid>")
    lines += ["    </Grid>", "  </Domain>", "</Xdmf>", ""]
    tmp = Path(str(path) + ".tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, path)
