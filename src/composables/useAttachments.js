/**
 * The files attached to the message being written: one owner for their state.
 *
 * Each entry: { key, name, status: 'reading'|'ready'|'error', chip (server's Attachment) | null,
 * error (normalised API error) | null }. Every request settles (success, error or abort); unmount
 * aborts what is still reading.
 */
import { computed, onBeforeUnmount, ref } from 'vue'
import * as api from '../api.js'

let counter = 0

/**
 * @param {import('vue').Ref<number|null>} sessionId the conversation the files belong to
 * @param {() => Promise<number>} ensureSession creates the conversation when there is none yet
 */
export function useAttachments(sessionId, ensureSession) {
	const items = ref([])
	const controllers = new Map()

	const reading = computed(() => items.value.some((item) => item.status === 'reading'))
	const readyIds = computed(() => items.value.filter((item) => item.status === 'ready').map((item) => item.chip.id))

	function update(key, patch) {
		items.value = items.value.map((item) => (item.key === key ? { ...item, ...patch } : item))
	}

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

	/** Files picked in Nextcloud's file picker: paths in the user's files. */
	function fromFiles(paths) {
		return Promise.all(paths.map((path) => run(path.split('/').pop() || path,
			(sid, signal) => api.attachFile(sid, path, signal))))
	}

	/** Files chosen on the device (File objects of an <input type="file">). */
	function upload(files) {
		return Promise.all([...files].map((file) => run(file.name,
			(sid, signal) => api.uploadFile(sid, file, signal))))
	}

	async function remove(key) {
		const item = items.value.find((entry) => entry.key === key)
		controllers.get(key)?.abort()
		items.value = items.value.filter((entry) => entry.key !== key)
		if (item?.status === 'ready') {
			// Best effort: an attachment never sent is deleted by the server after a day anyway.
			await api.deleteAttachment(item.chip.id).catch(() => {})
		}
	}

	/** After the message was sent: the chips now belong to it. */
	function clear() {
		items.value = []
	}

	onBeforeUnmount(() => {
		for (const controller of controllers.values()) {
			controller.abort()
		}
	})

	return { items, reading, readyIds, fromFiles, upload, remove, clear }
}
