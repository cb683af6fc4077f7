"""Recomputes a Participe budget's winners from its Pabulib files, with the Pabulib tools.

Usage: winners.py FILE.pb [FILE.pb ...]

Each file is first validated with pabulib-checker: any error (not a warning) fails the
script, exit status 2, with the checker's report on stderr. Then pabutools computes, for
each file, the two rules Participe offers, and the script prints one JSON object:

    {"<file name>": {"greedy": ["<project id>", ...], "equal_shares": [...]}, ...}

with each list sorted. The rules, as Participe applies them (see the file's `comment`):

- projects below META's `min_project_score_threshold` (1: at least one vote) are left out;
- greedy: pabutools' greedy_utilitarian_welfare with cost satisfaction, that is by votes
  (by points for cumulative votes), skipping a project that does not fit: CONSUL's rule;
- equal shares: pabutools' method_of_equal_shares with cost satisfaction (Cost_Sat) and
  add-one completion (voter_budget_increment=1: the per-voter share starts at
  budget/num_votes and rises by 1 while the outcome fits, up to the first exhaustive
  outcome), then greedy completion by votes (completion_by_rule_combination); a cumulative
  vote counts as the approval of the projects it gives points to;
- ties: for greedy, the cheaper project; for equal shares, the cheaper then the one with
  more votes; then the draw, the smaller SHA-256 of the seed (META `comment`, "Seed (UTF-8,
  hex): ...") followed by the 16 bytes of the project id.

`--timing` adds, per file, the seconds each rule took ("seconds": {...}).
"""

import hashlib
import json
import os
import re
import sys
import time
import uuid

from pabulib.checker import Checker
from pabutools.election import (
    AdditiveSatisfaction,
    ApprovalBallot,
    ApprovalProfile,
    Cost_Sat,
    Instance,
    parse_pabulib,
)
from pabutools.rules import (
    completion_by_rule_combination,
    greedy_utilitarian_welfare,
    method_of_equal_shares,
)
from pabutools.tiebreaking import TieBreakingRule


def check(paths):
    """pabulib-checker over every file; exits on the first file with errors."""
    report = Checker().process_files(paths)
    failed = False
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        errors = report.get(name, {}).get("results", {}).get("errors")
        if errors or name not in report:
            failed = True
            print(f"pabulib-checker: {path}: {json.dumps(report.get(name), default=str)}", file=sys.stderr)
    if failed or report["metadata"]["invalid"]:
        sys.exit(2)


def seed_of(meta):
    found = re.search(r"Seed \(UTF-8, hex\): ([0-9a-f]*)", meta.get("comment", ""))
    if not found:
        sys.exit(f"no seed in the comment: {meta.get('comment')!r}")
    return bytes.fromhex(found.group(1))


def winners(path, timing):
    instance, profile = parse_pabulib(path)
    meta = instance.meta
    seed = seed_of(meta)
    cumulative = meta["vote_type"] == "cumulative"
    threshold = int(meta.get("min_project_score_threshold", 0))

    def score(project):
        return sum(ballot[project] if cumulative else 1 for ballot in profile if project in ballot)

    votes = {p: sum(1 for ballot in profile if p in ballot) for p in instance}
    eligible = Instance((p for p in instance if score(p) >= threshold), budget_limit=instance.budget_limit)

    def lot(project):
        return hashlib.sha256(seed + uuid.UUID(project.name).bytes).digest()

    greedy_ties = TieBreakingRule(lambda inst, prof, p: (p.cost, lot(p)))
    mes_ties = TieBreakingRule(lambda inst, prof, p: (p.cost, -votes[p], lot(p)))

    # Approval sets, ballots with the same set merged (pabutools counts their multiplicity).
    approvals = ApprovalProfile(
        [ApprovalBallot(p for p in ballot if p in eligible) for ballot in profile], instance=eligible
    )
    approvals = ApprovalProfile([b for b in approvals if len(b) > 0], instance=eligible).as_multiprofile()

    seconds = {}
    started = time.perf_counter()
    if cumulative:
        # Cost times points: the greedy density (satisfaction per euro) is the score.
        class PointsSat(AdditiveSatisfaction):
            def __init__(self, inst, prof, ballot):
                AdditiveSatisfaction.__init__(
                    self, inst, prof, ballot, lambda i, pr, b, p, pre: b[p] * p.cost if p in b else 0
                )

        greedy = greedy_utilitarian_welfare(eligible, profile, sat_class=PointsSat, tie_breaking=greedy_ties)
    else:
        greedy = greedy_utilitarian_welfare(eligible, approvals, sat_class=Cost_Sat, tie_breaking=greedy_ties)
    seconds["greedy"] = time.perf_counter() - started

    started = time.perf_counter()
    shares = completion_by_rule_combination(
        eligible,
        approvals,
        [method_of_equal_shares, greedy_utilitarian_welfare],
        [
            {"sat_class": Cost_Sat, "voter_budget_increment": 1, "tie_breaking": mes_ties},
            {"sat_class": Cost_Sat, "tie_breaking": greedy_ties},
        ],
    )
    seconds["equal_shares"] = time.perf_counter() - started

    result = {
        "greedy": sorted(p.name for p in greedy),
        "equal_shares": sorted(p.name for p in shares),
    }
    if timing:
        result["seconds"] = seconds
    return result


def main(argv):
    timing = "--timing" in argv
    paths = [a for a in argv if a != "--timing"]
    if not paths:
        sys.exit(__doc__)
    # The checker prints a line per file it processes: keep stdout for the JSON.
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        check(paths)
    finally:
        sys.stdout = stdout
    print(json.dumps({os.path.basename(p): winners(p, timing) for p in paths}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
