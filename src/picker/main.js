/**
 * A second script, js/assistant_stream-picker.js, loaded only when a user opens the Files picker:
 * @nextcloud/dialogs (with @nextcloud/files and a WebDAV client) would triple the chat's own bundle.
 */
import { FilePickerClosed, getFilePickerBuilder } from '@nextcloud/dialogs'

window.AssistantStreamPicker = { FilePickerClosed, getFilePickerBuilder }
