"""Every size, count and time limit of the app in one place, so two modules can never disagree."""

from __future__ import annotations

# --- ids and numbers ---------------------------------------------------------------------------------
# Ids are 32-bit columns: a larger id cannot exist, and PostgreSQL would reject it in a query.
MAX_ID = 2**31 - 1
# Unix seconds: anything a JSON client can send exactly, far beyond any real date (columns are 64-bit).
MAX_TIMESTAMP = 2**53 - 1

# --- what a request may carry --------------------------------------------------------------------------
MAX_HEAD_BYTES = 64 * 1024  # request line and headers (AppAPI's and a browser's are a few KB)
HEAD_TIMEOUT = 10.0  # seconds a request head may take to arrive, from the connection or its first byte
BODY_TIMEOUT = 20.0  # seconds a request body may take once its head is in, plus a second per...
MIN_BODY_RATE = 500  # ...this many bytes received (Apache's RequestReadTimeout body=20,MinRate=500)
MAX_USER_ID = 256  # characters of a user id (the column is String(256); SQLite would not enforce it)
MAX_BODY = 256 * 1024  # bytes of a JSON request body
MAX_TITLE = 500  # characters of a session title (the column is String(500))
MAX_SEARCH = 200  # characters of a search over the conversations (only its first words are used)
MAX_CONTENT = 100_000  # characters of one message
MAX_ROLE = 20  # characters of a role parameter (the roles themselves are a closed list)
MAX_TOKEN = 2048  # characters of a stream token
MAX_PAGE = 200  # messages per /chat/messages page
FIRST_MESSAGE_TITLE = 140  # characters of the first question shown as the title until one is generated
MAX_POLL_TIMEOUT = 30.0  # seconds one long-poll may wait (below every proxy's read timeout)
MAX_SYSTEM_PROMPT = 20_000  # characters of a conversation's or a preset's system prompt
MAX_MAX_TOKENS = 1_000_000  # a conversation's max_tokens (providers refuse far less; this only bounds nonsense)

# --- connections, models, presets ------------------------------------------------------------------------
MAX_CONNECTIONS = 20  # connections an admin may configure besides the seed's
MAX_CONNECTION_NAME = 100  # characters of a connection's or a preset's name
MAX_MODELS = 500  # models in one connection's allow-list (and read from a provider's /models)
MAX_MODEL_NAME = 256  # characters of a model name (the column is String(256))
MAX_URL = 2048  # characters of a provider URL
MAX_PRESETS = 100  # presets per user, and shared presets
MAX_MODELS_BODY = 4 * 1024 * 1024  # bytes of a provider's /models answer read by "fetch models"

# --- answers and titles ----------------------------------------------------------------------------------
TITLE_MAX_CHARS = 120  # characters of a generated title
TITLE_CONTEXT_MESSAGES = 4  # newest messages a title is generated from
TITLE_CONTEXT_CHARS = 2000  # characters of each of them
START_WINDOW = 60.0  # seconds over which max_starts_per_minute counts
STOP_WAIT = 20.0  # seconds a stop waits for the stopped answer's end to be saved (the save retries)

# --- provider streams --------------------------------------------------------------------------------
MAX_LINE_BYTES = 1_048_576  # one SSE line from a provider: bounded so a peer cannot grow memory forever
MAX_ERROR_BODY = 64 * 1024  # bytes read of an error response
MAX_ERROR_DETAIL = 200  # characters of a provider's error message shown to users
MAX_MODEL_LIST = 1_048_576  # bytes read of a provider's model list (GET /models)
# A provider body is handed to the decoder at most this many bytes at a time, with a turn of the event
# loop in between: a large read (or a compressed one, inflated) never blocks the app for long.
BODY_PIECE = 64 * 1024
# The app asks for uncompressed answers; one that comes compressed anyway may inflate this far...
FREE_INFLATE = 4 * 1024 * 1024
# ...and from then on to at most this many times its compressed size. Whole-body gzip of real streams
# measured 140-255:1 (the same token over and over); a compression bomb is about 1000:1.
MAX_INFLATE_RATIO = 500

# --- delivery to browsers --------------------------------------------------------------------------------
HEARTBEAT = 15.0  # seconds between keep-alive comments: below every common proxy's idle cut (nginx 60 s)
# Text per write for a reader that fell behind. uvicorn buffers a whole write before it applies
# back-pressure, so without a cap a slow reader would hold a copy of the entire rest of the answer.
MAX_BATCH_CHARS = 64 * 1024
EVENTLOG_RETENTION = 300.0  # seconds a finished answer's event log stays for reconnecting readers
TOKEN_TTL = 600  # seconds: long enough for a long answer and a reconnect, short enough to be useless later

# --- Nextcloud -------------------------------------------------------------------------------------------
ADMIN_CACHE_TTL = 60.0  # seconds an "is admin" answer is reused
# Seconds an error waits to learn whether its reader is an administrator (who is told its detail); not knowing in
# time means no: a hanging Nextcloud must not hold every error response for its whole timeout.
ADMIN_CHECK_TIMEOUT = 3.0
TASKTYPES_CACHE_TTL = 60.0  # seconds a "TaskProcessing can chat" answer is reused
# One nc_py_api client (two HTTP sessions) per user we act as; bounded so a big instance does not
# hoard sockets. An evicted client is closed only later: a request of its user may still be using it.
MAX_USER_CLIENTS = 64
RETIRED_CLIENT_GRACE = 60.0
MAX_CACHED_USERS = 10_000
# Consecutive failed polls of a TaskProcessing task tolerated: one lost round trip must not end an answer.
MAX_TASK_POLL_FAILURES = 3
TASK_MAX_WAIT = 600.0  # seconds a TaskProcessing answer may take (tasks wait for Nextcloud's background jobs)

# --- attachments (the admin-tunable ones are settings: attachment_max_bytes, ...) ------------------------------
MAX_ATTACHMENTS = 10  # files on one message
MAX_FILE_PATH = 4096  # characters of a Nextcloud path sent by the browser
MAX_FILE_NAME = 255  # characters of a file name as stored
ORPHAN_ATTACHMENT_TTL = 24 * 3600  # seconds an attached file may wait for its message before it is deleted
MAX_PROMPT_IMAGES = 4  # images sent with one answer (the newest); each is re-sent with every answer
