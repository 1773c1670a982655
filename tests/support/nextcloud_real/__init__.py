"""A real Nextcloud (from the trimmed release tarballs) with AppAPI, the app registered on it, and its tests."""
