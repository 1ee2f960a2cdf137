"""``python up_fake_policies.py <stackeye args>``: the stackeye command with the policy test doubles
(support.fake_policies) in the registry — a real process (scheduler, API, CLI) whatever the policies."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/

from stackeye.cli.main import main  # noqa: E402
from stackeye.decisions import registry  # noqa: E402
from support.fake_policies import POLICIES, policy_of  # noqa: E402

registry.get = policy_of
registry.POLICIES = list(POLICIES)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
