"""Real-Nextcloud tests: one real Nextcloud per tarball (tests/support/nextcloud_real), the app registered on it."""
