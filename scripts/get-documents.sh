#!/bin/sh
# Real documents for bench/documents.py: manuals nobody in this project wrote, from Debian's
# documentation packages, unpacked (not installed) into one folder.
#   PDF:  gnuplot-doc (gnuplot.pdf, LaTeX, ~280 pages), asymptote-doc (asymptote.pdf,
#         Texinfo), developers-reference (developers-reference.pdf, Sphinx + LaTeX)
#   HTML: debian-reference-en (DocBook), debian-faq (DocBook), developers-reference (Sphinx),
#         mkdocs-doc (MkDocs), libcommons-fileupload-java-doc (Javadoc), gnuplot-doc
#         (latex2html), asymptote-doc (Texinfo makeinfo)
# Usage: scripts/get-documents.sh [DEST]   (DEST defaults to ~/.cache/ragloop/documents)
# Prints DEST; DEST/<package>/ holds each package's files as they would be under /.
set -eu
DEST=${1:-"$HOME/.cache/ragloop/documents"}
PACKAGES="gnuplot-doc asymptote-doc developers-reference debian-reference-en debian-faq
mkdocs-doc libcommons-fileupload-java-doc"
mkdir -p "$DEST/.debs"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
for package in $PACKAGES; do
    [ -d "$DEST/$package" ] && continue
    if ! ls "$DEST/.debs/${package}_"*.deb >/dev/null 2>&1; then
        (cd "$DEST/.debs" && apt-get download -qq "$package" 2>/dev/null) || {
            $SUDO apt-get update -qq
            (cd "$DEST/.debs" && apt-get download -qq "$package")
        }
    fi
    mkdir -p "$DEST/$package"
    dpkg-deb -x "$DEST/.debs/${package}_"*.deb "$DEST/$package"
done
# Debian compresses some documentation files; the bench reads them uncompressed
find "$DEST" -name '*.pdf.gz' -exec gunzip -kf {} \;
find "$DEST" -name '*.html.gz' -exec gunzip -kf {} \;
echo "$DEST"
