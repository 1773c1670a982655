"""Print the appinfo/info.xml ``<routes>`` block (or, with --env, ``<environment-variables>``) from the code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from assistant_stream.core.settings import SETTING_KEYS, env_name
from assistant_stream.web.routes import ROUTES, Route

# Env vars the app reads besides the settings (see env.py). AppAPI injects APP_ID, APP_SECRET & co. itself.
EXTRA_ENV: dict[str, tuple[str, str]] = {
    "DATABASE_URL": (
        "Database URL",
        "SQLAlchemy URL of a PostgreSQL database (postgresql+asyncpg://user:password@host/db). "
        "Empty: SQLite in the app's persistent storage.",
    ),
    "LOCAL_MODE": (
        "Local mode (development only)",
        "Never set this in a container: it lets anyone who reaches the app's port on loopback in as one "
        "local user (never for admin routes). Only for `make run` without a Nextcloud: ignored when NEXTCLOUD_URL "
        "is set.",
    ),
    "LOG_LEVEL": ("Log level", "DEBUG, INFO (default), WARNING or ERROR. Secrets are never logged at any level."),
    "HTTPS_PROXY": ("HTTPS proxy", "Outgoing proxy for calls to the AI provider (httpx honours HTTPS_PROXY)."),
    "HTTP_PROXY": ("HTTP proxy", "Outgoing proxy for plain-HTTP providers."),
    "NO_PROXY": ("No proxy", "Hosts reached without the proxy, e.g. a local Ollama."),
}


def route_xml(route: Route, indent: str = "\t\t\t") -> str:
    # In info.xml AppAPI wants the access level by NAME (PUBLIC/USER/ADMIN); numbers are the --json-info form.
    headers = "[" + ",".join(f'"{h}"' for h in route.headers_to_exclude) + "]"
    return (f"{indent}<route>\n"
            f"{indent}\t<url>{escape(route.url)}</url>\n"
            f"{indent}\t<verb>{','.join(route.verbs)}</verb>\n"
            f"{indent}\t<access_level>{route.access.name}</access_level>\n"
            f"{indent}\t<headers_to_exclude>{escape(headers)}</headers_to_exclude>\n"
            f"{indent}</route>")


def routes_block(indent: str = "\t\t") -> str:
    inner = "\n".join(route_xml(r, indent + "\t") for r in ROUTES)
    return f"{indent}<routes>\n{inner}\n{indent}</routes>"


def _title(key: str) -> str:
    words = [{"api": "API", "url": "URL"}.get(w, w) for w in key.split("_")]
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def env_block(indent: str = "\t\t") -> str:
    entries: list[tuple[str, str, str]] = [
        (env_name(key), _title(key),
         f"Overrides the app config value {key} (and the admin form). Leave empty to use those.")
        for key in SETTING_KEYS
    ]
    entries += [(name, title, text) for name, (title, text) in EXTRA_ENV.items()]
    lines = [f"{indent}<environment-variables>"]
    for name, title, text in entries:
        lines += [f"{indent}\t<variable>",
                  f"{indent}\t\t<name>{name}</name>",
                  f"{indent}\t\t<display-name>{escape(title)}</display-name>",
                  f"{indent}\t\t<description>{escape(text)}</description>",
                  f"{indent}\t</variable>"]
    lines.append(f"{indent}</environment-variables>")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", action="store_true", help="print <environment-variables> instead")
    args = parser.parse_args()
    print(env_block() if args.env else routes_block())


if __name__ == "__main__":
    main()
