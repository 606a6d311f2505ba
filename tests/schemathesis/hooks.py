"""Schemathesis hooks of tests/schemathesis/run.sh (loaded through SCHEMATHESIS_HOOKS).

`PATCH /api/v1/vendor` takes the vendor's API rate limits (`rate_limit_read_per_minute`,
`rate_limit_write_per_minute`, 1..=1000000 requests a minute for each key). The run uses one
vendor and one key for every operation, so a generated `1` would leave the rest of the run
(every operation, both phases after it) answering 429 and test nothing. A valid limit is
therefore sent as the largest valid one; everything else the generator makes of these fields
(null, 0, negatives, above the maximum, wrong types) is sent as generated, so the server's
checks of them still run. The limits themselves are tested in the cargo suite.
"""

import schemathesis

LIMIT_FIELDS = ("rate_limit_read_per_minute", "rate_limit_write_per_minute")
TOP = 1_000_000


def _valid_limit(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, float) and not value.is_integer():
        return False
    return isinstance(value, (int, float)) and 1 <= value <= TOP


@schemathesis.hook
def before_call(context, case, kwargs):
    operation = case.operation
    if operation.method.upper() != "PATCH" or operation.path != "/api/v1/vendor":
        return
    if not isinstance(case.body, dict):
        return
    for field in LIMIT_FIELDS:
        if _valid_limit(case.body.get(field)):
            case.body[field] = TOP
