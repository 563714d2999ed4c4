"""A deliberately flaky step (think: a download from a busy mirror): the first attempt fails, a retry succeeds.

BuildRunner sets BR_TASK_ATTEMPT for every attempt; the plan gives this task retries.
"""

import json
import os
import sys
from pathlib import Path

attempt = int(os.environ.get("BR_TASK_ATTEMPT", "1"))
if attempt < 2:
    print(f"attempt {attempt}: mirror timed out (simulated), retrying later", file=sys.stderr)
    sys.exit(1)
out = Path("build")
out.mkdir(exist_ok=True)
(out / "rates.json").write_text(json.dumps({"EUR": 0.92, "GBP": 0.79}))
print(f"attempt {attempt}: fetched 2 rates into build/rates.json")
