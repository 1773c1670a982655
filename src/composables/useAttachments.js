/**
 * The files attached to the message being written: one owner for their state.
 *
 * Each entry: { key, name, status: 'reading'|'ready'|'error', chip (the server's Attachment) or null,
 * error (a normalised API error) or null }. Every request settles (success, error or abort); unmount
 * aborts what is still being read.
 */
import { computed, getCurrentScope, onScopeDispose, ref } from 'vue'
import * as api from '../api.js'

let counter = 0

/**
 * @param {import('vue').Ref<number|null>} sessionId the conversation the files belong to
 * @param {() => Promise<number>} ensureSession the conversation's id, created first when there is none
 * @return {object} { items, reading, readyIds, fromFiles, upload, remove, clear }
 */
export function useAttachments(sessionId, ensureSession) {
	const items = ref([])
	const controllers = new Map()

	const reading = computed(() => items.value.some((item) => item.status === 'reading'))
	const readyIds = computed(() => items.value.filter((item) => item.status === 'ready').map((item) => item.chip.id))

	/**
	 * @param {string} key the entry
	 * @param {object} patch its new fields
	 */
	function update(key, patch) {
		items.value = items.value.map((item) => (item.key === key ? { ...item, ...patch } : item))
	}

	/**
	 * @param {string} name the file's name, shown while it is read
	 * @param {(sessionId: number, signal: AbortSignal) => Promise<object>} call the request that attaches it
	 * @return {Promise<void>} never rejects: a failure shows on the entry
	 */
	async function run(name, call) {
		const key = `a${++counter}`
		const controller = new AbortController()
		controllers.set(key, controller)
		items.value = [...items.value, { key, name, status: 'reading', chip: null, error: null }]
		try {
			const sid = sessionId.value ?? await ensureSession()
			const chip = await call(sid, controller.signal)
			update(key, { status: 'ready', chip })
		} catch (e) {
			if (e?.aborted) {
				items.value = items.value.filter((item) => item.key !== key)
			} else {
				update(key, { status: 'error', error: e })
			}
		} finally {
			controllers.delete(key)
		}
	}

	/**
	 * @param {string[]} paths files picked in Nextcloud's Files picker (paths in the user's files)
	 * @return {Promise<void>} never rejects
	 */
	async function fromFiles(paths) {
		await Promise.all(paths.map((path) => run(
			path.split('/').pop() || path,
			(sid, signal) => api.attachFile(sid, path, signal),
		)))
	}

	/**
	 * @param {FileList|File[]} files files chosen on the device
	 * @return {Promise<void>} never rejects
	 */
	async function upload(files) {
		await Promise.all([...files].map((file) => run(
			file.name,
			(sid, signal) => api.uploadFile(sid, file, signal),
		)))
	}

	/**
	 * @param {string} key the entry to drop (a file still being read is aborted)
	 * @return {Promise<void>} never rejects
	 */
	async function remove(key) {
		const item = items.value.find((entry) => entry.key === key)
		controllers.get(key)?.abort()
		items.value = items.value.filter((entry) => entry.key !== key)
		if (item?.status === 'ready') {
			// Best effort: an attachment never sent is deleted by the server after a day anyway.
			await api.deleteAttachment(item.chip.id).catch(() => {})
		}
	}

	/** After the message was sent (the files belong to it now), or when the conversation changes. */
	function clear() {
		for (const controller of controllers.values()) {
			controller.abort()
		}
		items.value = []
	}

	if (getCurrentScope()) {
		onScopeDispose(clear)
	}

	return { items, reading, readyIds, fromFiles, upload, remove, clear }
}
