#!/usr/bin/python3
"""The README's run command and the docs name the binaries where the build
puts them: deploy/quickstart.sh execs build/<path of corecached in its build
tree>, and every build/... path to corecached or corecachectl in README.md
and deploy/ is that path (a moved target once broke the main command).

Usage: test_docs_paths.py BUILD_ROOT CORECACHED CORECACHECTL
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main():
    build_root, daemon, ctl = sys.argv[1:4]
    want = {os.path.basename(p): "build/" + os.path.relpath(p, build_root)
            for p in (daemon, ctl)}
    quick = open(os.path.join(ROOT, "deploy", "quickstart.sh")).read()
    execs = re.findall(r"^exec (\S+)", quick, re.M)
    if execs != [want["corecached"]]:
        print("FAIL: quickstart.sh execs %r, the build makes %s"
              % (execs, want["corecached"]))
        return 1
    bad = []
    for doc in ["README.md", "deploy/quickstart.sh", "deploy/corecached.conf",
                "deploy/corecached.service"]:
        text = open(os.path.join(ROOT, doc)).read()
        for m in re.finditer(r"\bbuild/(?:[\w.-]+/)*(corecached|corecachectl)\b",
                             text):
            if m.group(0) != want[m.group(1)]:
                bad.append("%s: %s" % (doc, m.group(0)))
    if bad:
        print("FAIL: paths the build does not make (it makes %s):\n  %s"
              % (", ".join(sorted(want.values())), "\n  ".join(bad)))
        return 1
    print("ok: %s" % ", ".join(sorted(want.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
