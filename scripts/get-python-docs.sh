#!/bin/sh
# Test data for bench/python_docs.py: Debian's python3-doc package, the Python
# documentation as HTML (library/, tutorial/, howto/ ...). Not part of the default install.
# Usage: scripts/get-python-docs.sh   (as root, or with sudo available)
# Prints the HTML folder, /usr/share/doc/python3/html (a link to python3.X's docs).
set -eu
DOCS=/usr/share/doc/python3/html
if [ ! -d "$DOCS/library" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-doc >/dev/null
fi
[ -d "$DOCS/library" ] || { echo "python3-doc installed but $DOCS/library is missing" >&2; exit 1; }
echo "$DOCS"
