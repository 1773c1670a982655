/**
 * Generate a session title after its first answer and follow it as it streams in
 * (POST /chat/generate_title, then long-poll /chat/poll?title=1).
 */
import * as api from '../api.js'

const running = new Map()

/**
 * @param {number} sessionId the session
 * @param {(title: string, final: boolean) => void} onUpdate called with the title so far
 * @return {Promise<string|null>} the final title, or null; never rejects
 */
export function generateSessionTitle(sessionId, onUpdate) {
	if (running.has(sessionId)) {
		return running.get(sessionId)
	}
	const promise = (async () => {
		let taskId = sessionId
		try {
			const res = await api.generateTitle(sessionId)
			taskId = res?.taskId ?? sessionId
		} catch (e) {
			return null
		}
		let title = ''
		let cursor = 0
		let failures = 0
		for (let round = 0; round < 40; round++) {
			let resp
			try {
				resp = await api.poll({ sessionId, title: 1, cursor, timeout: 25 })
			} catch (e) {
				if (++failures > 3) break
				await new Promise((resolve) => setTimeout(resolve, 1000 * failures))
				continue
			}
			failures = 0
			if (typeof resp.text === 'string' && resp.text !== '') {
				title = cursor === 0 ? resp.text : title + resp.text
				onUpdate(title.trim(), false)
			}
			if (typeof resp.cursor === 'number') cursor = resp.cursor
			if ((resp.status && resp.status !== 'generating') || resp.done) break
		}
		try {
			const final = await api.checkTitleGeneration(sessionId, taskId)
			if (final?.sessionTitle) {
				title = final.sessionTitle
			}
		} catch (e) {
			// 417 (still running) or an error: keep what streamed in.
		}
		if (title.trim()) {
			onUpdate(title.trim(), true)
		}
		return title.trim() || null
	})().finally(() => running.delete(sessionId))
	running.set(sessionId, promise)
	return promise
}
