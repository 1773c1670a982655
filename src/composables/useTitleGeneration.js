/**
 * Session titles: after a session's first answer, ask the server for a title and follow it as it
 * streams in (POST /chat/generate_title, then the shared long-poll with title=1). The owner's
 * scope ending aborts every title still running.
 */
import { getCurrentScope, onScopeDispose } from 'vue'
import * as api from '../api.js'
import { MessageStatus, Status } from '../status.js'
import { pollLoop } from '../transport/pollLoop.js'

/** A title is a few words: this many long-polls is plenty. */
const MAX_ROUNDS = 40

/**
 * @return {object} expect / afterAnswer / generate / forget
 */
export function useTitleGeneration() {
	/** session id -> { controller, promise } of a title being generated */
	const running = new Map()
	/** sessions whose first answer should be followed by a title */
	const expected = new Set()

	/**
	 * Generate a session's title now. A second call while one runs joins it.
	 *
	 * @param {number} sessionId the session
	 * @param {(title: string, final: boolean) => void} onUpdate called with the title so far
	 * @return {Promise<string|null>} the final title, or null (failed, aborted); never rejects
	 */
	function generate(sessionId, onUpdate) {
		if (running.has(sessionId)) {
			return running.get(sessionId).promise
		}
		const controller = new AbortController()
		const promise = follow(sessionId, onUpdate, controller.signal)
			.finally(() => {
				if (running.get(sessionId)?.controller === controller) {
					running.delete(sessionId)
				}
			})
		running.set(sessionId, { controller, promise })
		return promise
	}

	/**
	 * @param {number} sessionId the session
	 * @param {(title: string, final: boolean) => void} onUpdate called with the title so far
	 * @param {AbortSignal} signal ends it all
	 * @return {Promise<string|null>} the final title, or null
	 */
	async function follow(sessionId, onUpdate, signal) {
		let taskId
		try {
			const res = await api.generateTitle(sessionId, signal)
			taskId = res?.taskId ?? sessionId
		} catch {
			return null
		}
		let title = ''
		let cursor = 0
		await pollLoop({
			signal,
			retries: 3,
			maxRounds: MAX_ROUNDS,
			params: () => ({ sessionId, title: 1, cursor }),
			onResponse(resp) {
				if (typeof resp.text === 'string' && resp.text !== '') {
					title = cursor === 0 ? resp.text : title + resp.text
					onUpdate(title.trim(), false)
				}
				if (typeof resp.cursor === 'number') {
					cursor = resp.cursor
				}
				return Boolean(resp.done) || (!!resp.status && resp.status !== MessageStatus.GENERATING)
			},
		})
		if (signal.aborted) {
			return null
		}
		try {
			const final = await api.checkTitleGeneration(sessionId, taskId, signal)
			if (final?.sessionTitle) {
				title = final.sessionTitle
			}
		} catch {
			// 417 (still running), an error, or aborted: keep what streamed in.
		}
		if (signal.aborted) {
			return null
		}
		title = title.trim()
		if (title) {
			onUpdate(title, true)
		}
		return title || null
	}

	/** @param {number} sessionId a session whose first answer is on its way */
	function expect(sessionId) {
		expected.add(sessionId)
	}

	/**
	 * After an answer: title its session when it was the session's first, completed answer.
	 *
	 * @param {number} sessionId the session
	 * @param {string} status the answer's final Status
	 * @param {(title: string, final: boolean) => void} onUpdate called with the title so far
	 * @return {Promise<string|null>|null} the title's promise, or null when no title is due
	 */
	function afterAnswer(sessionId, status, onUpdate) {
		if (!expected.has(sessionId) || status !== Status.DONE) {
			return null
		}
		expected.delete(sessionId)
		return generate(sessionId, onUpdate)
	}

	/** @param {number} sessionId a session that is gone: no title for it, and stop the one running */
	function forget(sessionId) {
		expected.delete(sessionId)
		running.get(sessionId)?.controller.abort()
	}

	/** Stop every title and expect none: the owner is gone. */
	function abortAll() {
		expected.clear()
		for (const { controller } of running.values()) {
			controller.abort()
		}
	}

	if (getCurrentScope()) {
		onScopeDispose(abortAll)
	}

	return { generate, expect, afterAnswer, forget, abortAll }
}
