#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Saves the dashboard page as rendered by headless Chromium (Debian package `chromium`):
#   snapshot.py URL HTML PNG [WIDTHxHEIGHT]
# HTML is the DOM after the page's script ran, with its style sheet inlined and the script
# left out (a static page to open anywhere); PNG is a screenshot (default 1280x800).
# Exit 0 when both are written, 2 when Chromium is missing or fails.
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request


def chromium(args, profile):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        sys.exit("snapshot.py: chromium is not installed")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", "--user-data-dir=" + profile,
           "--virtual-time-budget=5000"] + args
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          timeout=60, check=False)


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit(__doc__ or "usage: snapshot.py URL HTML PNG [WxH]")
    url, html_out, png_out = argv[:3]
    size = (argv[3] if len(argv) == 4 else "1280x800").replace("x", ",")
    with tempfile.TemporaryDirectory(prefix="iofence-snapshot.") as profile:
        dom = chromium(["--dump-dom", url], profile)
        if dom.returncode or b"<svg" not in dom.stdout:
            print("snapshot.py: chromium did not render the page", file=sys.stderr)
            return 2
        shot = chromium(["--window-size=" + size, "--screenshot=" + os.path.abspath(png_out),
                         url], profile)
        if shot.returncode or not os.path.exists(png_out):
            print("snapshot.py: chromium did not take the screenshot", file=sys.stderr)
            return 2
    page = dom.stdout.decode()
    css_url = urllib.parse.urljoin(url, "/dashboard.css")
    css = urllib.request.urlopen(css_url, timeout=5).read().decode()
    page = re.sub(r'<link rel="stylesheet" href="/dashboard.css">', "<style>" + css + "</style>",
                  page)
    page = re.sub(r'<script src="/dashboard.js"></script>', "", page)
    with open(html_out, "w") as f:
        f.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
