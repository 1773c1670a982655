/**
 * Copy to the clipboard: the Clipboard API where the page may use it, else the legacy way.
 */

/**
 * @param {string} text text to copy
 * @return {Promise<boolean>} whether it was copied
 */
export async function copyText(text) {
	try {
		if (navigator.clipboard && window.isSecureContext) {
			await navigator.clipboard.writeText(text)
			return true
		}
	} catch {
		// fall through to the legacy way
	}
	const area = document.createElement('textarea')
	area.value = text
	area.setAttribute('readonly', '')
	area.style.position = 'fixed'
	area.style.opacity = '0'
	document.body.appendChild(area)
	area.select()
	let ok
	try {
		ok = document.execCommand('copy')
	} catch {
		ok = false
	}
	document.body.removeChild(area)
	return ok
}
