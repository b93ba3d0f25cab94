"""Section 5 of the paper, one module per statement (Corollary 5.12 with Prop 5.2 and Remark 5.9
with Prop 5.8, whose measurements they share; Remark 5.11 with Prop 5.10):

- ``prop5_2``: Prop 5.2 (convergence) and Cor 5.12 (rate) on Algorithm 1's iterates;
- ``prop5_4``: Prop 5.4 (gradient variance, (5.1));
- ``remark5_5``: Remark 5.5 (spectral normalisation against exploding variance);
- ``prop5_8``: Prop 5.8 (gradient bias, (5.3)) and Remark 5.9 (the start distribution μ);
- ``prop5_10``: Prop 5.10 (the optimal expansion step h*) and Remark 5.11.

Each registers its report section on import (``verify.registry``); tests sit beside the modules.
"""
