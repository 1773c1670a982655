"""Print the occ commands that attach a running Assistant Stream to a Nextcloud (manual_install)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from assistant_stream import APP_ID, __version__
from assistant_stream.web.routes import ROUTES


def json_info(secret: str, port: int) -> str:
    return json.dumps({
        "id": APP_ID, "name": "Assistant Stream", "daemon_config_name": "manual_install",
        "version": __version__, "secret": secret, "port": port,
        "routes": [{"url": r.url, "verb": ",".join(r.verbs), "access_level": int(r.access),
                    "headers_to_exclude": list(r.headers_to_exclude)} for r in ROUTES],
    }, separators=(",", ":"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--port", type=int, default=23000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--nextcloud-url", default="",
                        help="the Nextcloud the app is attached to (NEXTCLOUD_URL); empty: local mode")
    parser.add_argument("--json", action="store_true", help="print only the --json-info value")
    args = parser.parse_args()
    secret = Path(args.secret_file).read_text().strip()
    info = json_info(secret, args.port)
    if args.json:
        print(info)
        return
    nextcloud = args.nextcloud_url.rstrip("/")
    if not nextcloud:
        # Registering needs an app that can call Nextcloud back (it reports its init progress): without
        # NEXTCLOUD_URL `app:register --wait-finish` would wait forever. So no commands here.
        print(f"""
== Assistant Stream {__version__} on http://{args.host}:{args.port} ==
Local single-user chat (no Nextcloud needed): http://{args.host}:{args.port}/

To attach it to a Nextcloud instead, stop it and run `NEXTCLOUD_URL=<the Nextcloud's URL> make run`:
it then prints the occ commands that register and configure it (local mode is off then).
""", flush=True)
        return
    # The daemon's Nextcloud URL is the one this Nextcloud answers on, as the app reaches it (NEXTCLOUD_URL).
    print(f"""
== Assistant Stream {__version__} on http://{args.host}:{args.port}, attached to {nextcloud} ==

Register it with that Nextcloud (AppAPI installed), as the web server user:
  occ app_api:daemon:register manual_install "Manual Install" manual-install http {args.host} {shlex.quote(nextcloud)}
  occ app_api:app:register {APP_ID} manual_install --wait-finish --json-info {shlex.quote(info)}
Then configure the provider (Nextcloud 32-34; on 35 `occ config:app:set` works too):
  occ app_api:app:config:set {APP_ID} streaming_api_url --value="https://api.openai.com/v1"
  occ app_api:app:config:set {APP_ID} streaming_model --value="gpt-4o-mini"
  occ app_api:app:config:set {APP_ID} streaming_api_key --value="sk-..." --sensitive=1
(To change a value later: --update-only; to replace the key: config:delete it, then set it again with
 --sensitive=1. Or use Administration settings -> Assistant -> Assistant Stream. Details in docs/configuration.md.)
(The secret above is stored in {args.secret_file}; keep it private.)
""", flush=True)


if __name__ == "__main__":
    main()
