"""Physical constants and unit factors: one definition each (exact SI values, CODATA 2018)."""

K_B = 1.380649e-23  # Boltzmann constant, J/K
K_B_EV = 8.617333262e-5  # Boltzmann constant, eV/K
N_A = 6.02214076e23  # Avogadro constant, 1/mol
NM = 1e-9  # metres per nanometre
ZERO_C_K = 273.15  # 0 degrees Celsius in kelvin
