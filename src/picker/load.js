/**
 * Loads js/assistant_stream-picker.js (and its stylesheet) from the folder of the chat's own script, once.
 */

// The chat's script URL, read while it runs: the picker is served from the same folder (AppAPI's proxy).
const ownScript = document.currentScript?.src
	|| document.querySelector('script[src*="assistant_stream-main"]')?.src
	|| ''
const folder = ownScript.slice(0, ownScript.lastIndexOf('/') + 1)

let loading = null

/**
 * @param {string} tag 'script' or 'link'
 * @param {object} attrs its attributes (src or href)
 * @return {Promise<void>} resolves once it loaded
 */
function add(tag, attrs) {
	return new Promise((resolve, reject) => {
		const el = document.createElement(tag)
		Object.assign(el, attrs)
		el.onload = resolve
		el.onerror = () => reject(new Error(`Could not load ${attrs.src || attrs.href}`))
		document.head.appendChild(el)
	})
}

/**
 * @return {Promise<object>} @nextcloud/dialogs' { getFilePickerBuilder, FilePickerClosed }
 */
export function loadPicker() {
	if (window.AssistantStreamPicker) {
		return Promise.resolve(window.AssistantStreamPicker)
	}
	if (!loading) {
		const query = ownScript.includes('?') ? ownScript.slice(ownScript.indexOf('?')) : ''
		loading = Promise.all([
			add('link', { rel: 'stylesheet', href: folder + 'assistant_stream-picker.css' + query }),
			add('script', { src: folder + 'assistant_stream-picker.js' + query }),
		]).then(() => window.AssistantStreamPicker).catch((e) => {
			loading = null // a later click may try again
			throw e
		})
	}
	return loading
}
