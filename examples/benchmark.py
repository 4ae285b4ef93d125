"""Time astvmap against a Python loop, np.vectorize, hand-written NumPy, jax and torch: `astvmap bench`.

python examples/benchmark.py --quick                 # the same as: astvmap bench --quick
python examples/benchmark.py --markdown --plot bench.png
"""

import sys

from astvmap.cli import main

sys.exit(main(["bench", *sys.argv[1:]]))
