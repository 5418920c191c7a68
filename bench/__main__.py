"""`make bench` / `make bench-full`: the scenarios arrive with issue 6."""

import sys


def main() -> int:
    print("bench: no scenarios yet — they are built in issue 6 (S1–S3, S6 and baselines B1–B4).", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
