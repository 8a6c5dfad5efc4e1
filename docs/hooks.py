"""mkdocs hooks: a page another branch is writing shows as a short placeholder until it lands.

The nav names every page of the site. The pages in ``PENDING`` are written on other branches
(each by the helper named); while one is missing here, the build serves a generated
placeholder in its place, so ``mkdocs build --strict`` passes and links to it resolve. Once the
page exists its file is used and its entry here does nothing; delete the entry then.
"""

from __future__ import annotations

from mkdocs.structure.files import File, Files

PENDING = {
}


def on_files(files: Files, config) -> Files:
    for path, (title, owner) in PENDING.items():
        if files.get_file_from_path(path) is None:
            files.append(File.generated(config, path, content=(
                f"# {title}\n\nThis page is written on the `{owner}` branch and lands with it.\n")))
    return files
