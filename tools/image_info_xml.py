"""Print appinfo/info.xml with <docker-install> naming your own image, for `occ app_api:app:register --info-xml`."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

INFO_XML = Path(__file__).resolve().parents[1] / "appinfo" / "info.xml"


def split_image(image: str, default_tag: str) -> tuple[str, str, str]:
    """(registry, image, tag) as AppAPI joins them back: registry/image:tag (Docker's rules for the registry)."""
    if not image or any(c.isspace() or c in "<>&\"'" for c in image) or "@" in image:
        raise ValueError(f"not an image reference (name[:tag], no digest): {image!r}")
    name, tag = image, default_tag
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = image.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name if rest else f"library/{name}"
    if not tag or not path:
        raise ValueError(f"not an image reference (name[:tag], no digest): {image!r}")
    return registry, path, tag


def with_image(info_xml: str, image: str) -> str:
    version = re.search(r"<version>([^<]+)</version>", info_xml)
    registry, path, tag = split_image(image, version.group(1) if version else "latest")
    for element, value in (("registry", registry), ("image", path), ("image-tag", tag)):
        info_xml, count = re.subn(rf"(<docker-install>.*?<{element}>)[^<]*(</{element}>)",
                                  lambda m, v=value: m.group(1) + v + m.group(2), info_xml, flags=re.S)
        if count != 1:
            raise ValueError(f"<docker-install><{element}> not found once in info.xml")
    return info_xml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("image", help="e.g. registry.example.com/nextcloud/assistant_stream:1.0.0")
    args = parser.parse_args()
    try:
        sys.stdout.write(with_image(INFO_XML.read_text(), args.image))
    except ValueError as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
