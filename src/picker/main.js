/**
 * A second script, js/assistant_stream-picker.js, loaded only when a user opens the Files picker:
 * @nextcloud/dialogs (with @nextcloud/files and a WebDAV client) would triple the chat's own bundle.
 */
import { FilePickerClosed, getFilePickerBuilder } from '@nextcloud/dialogs'
import { defaultRootPath, getClient } from '@nextcloud/files/dav'

// Asks for the user's quota alone: what makes Nextcloud store the user's 'lastSeenQuotaUsage'.
const QUOTA_PROPFIND = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:quota-available-bytes/>'
	+ '</d:prop></d:propfind>'

let prepared = null

/**
 * One PROPFIND of the user's root before the picker first opens. The picker sends two at once when it
 * mounts (@nextcloud/dialogs 7.5 loads the folder from two onMounted hooks), and a user's first PROPFIND
 * with the quota stores the 'lastSeenQuotaUsage' preference: Nextcloud 32 and 33 answer 500 to the second
 * of two such first inserts (UserConfig: "unknown config key"), and the picker then shows "No files in
 * here" for a folder full of files. Measured on the real Nextcloud in tests/browser/test_real_nextcloud.py.
 *
 * @return {Promise<void>} settles once the preference exists; never rejects (the picker still opens)
 */
function prepare() {
	if (!prepared) {
		prepared = getClient()
			.stat(defaultRootPath, { details: true, data: QUOTA_PROPFIND })
			.then(() => {}, () => {
				prepared = null // the next opening tries again
			})
	}
	return prepared
}

window.AssistantStreamPicker = { FilePickerClosed, getFilePickerBuilder, prepare }
