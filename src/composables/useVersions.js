/**
 * Versions of messages in the open conversation: edit a question, regenerate an answer (both start a new
 * branch from there), switch between versions with the arrows, and continue an answer that was cut off.
 * The messages before the one acted on stay as they are; what follows is replaced by the new branch.
 */
import * as api from '../api.js'

/**
 * @param {object} message a stored message
 * @return {boolean} whether "Continue" can go on writing it (cut off by the length limit, a stop or a restart)
 */
export function isContinuable(message) {
	return message?.role === 'assistant' && !!message.content && message.engine !== 'taskprocessing'
		&& ((message.status === 'done' && message.finish_reason === 'length')
			|| message.status === 'cancelled' || message.status === 'interrupted')
}

/**
 * @param {object} deps what it works on
 * @param {object} deps.conversation a useConversation()
 * @param {object} deps.banner a useErrorBanner()
 * @return {object} edit / regenerate / switchTo / continueAnswer, each never rejecting
 */
export function useVersions({ conversation, banner }) {
	const { history, activeId } = conversation

	/**
	 * @param {number} id a message shown
	 * @return {object[]} the messages shown before it
	 */
	function before(id) {
		const list = history.messages.value
		const index = list.findIndex((m) => m.id === id)
		return index === -1 ? list.slice() : list.slice(0, index)
	}

	/**
	 * Run an action against the open session; its errors go to the banner.
	 *
	 * @param {function(number, function(): boolean): Promise<void>} action gets the session id and whether it is still open
	 * @return {Promise<boolean>} whether it succeeded
	 */
	async function inSession(action) {
		const sessionId = activeId.value
		banner.clear()
		try {
			// A deletion still offered for undo happens first: the server's branch is then what is shown.
			await conversation.deletion?.flush()
			await action(sessionId, () => activeId.value === sessionId)
			return true
		} catch (e) {
			banner.show(e)
			return false
		}
	}

	/**
	 * @param {object} message the question
	 * @param {string} content its new text
	 * @return {Promise<boolean>} whether the new version was stored (its answer then streams)
	 */
	function edit(message, content) {
		return inSession(async (sessionId, stillOpen) => {
			const edited = await api.editMessage(sessionId, message.id, content)
			if (stillOpen()) {
				history.show([...before(message.id), edited], history.hasOlder.value)
				conversation.runGeneration(sessionId, edited.id)
			}
		})
	}

	/**
	 * @param {object} message an answer: a new version of it is written next to it
	 * @return {Promise<boolean>} never rejects
	 */
	function regenerate(message) {
		return inSession(async (sessionId, stillOpen) => {
			const res = await api.regenerate(sessionId, message.id)
			if (stillOpen()) {
				history.show(before(message.id), history.hasOlder.value)
				conversation.runGeneration(sessionId, res.replyTo ?? message.reply_to)
			}
		})
	}

	/**
	 * @param {object} message the version shown now
	 * @param {number} targetId the version to show instead
	 * @return {Promise<boolean>} never rejects
	 */
	function switchTo(message, targetId) {
		return inSession(async (sessionId, stillOpen) => {
			const { messages, more } = await api.switchBranch(sessionId, targetId)
			if (!stillOpen()) {
				return
			}
			if (more) {
				await conversation.reload()
			} else {
				history.show([...before(message.id), ...messages], history.hasOlder.value)
			}
		})
	}

	/**
	 * @param {object} message an answer that was cut off: it grows in place
	 * @return {Promise<boolean>} never rejects
	 */
	function continueAnswer(message) {
		return inSession(async (sessionId, stillOpen) => {
			const res = await api.continueAnswer(sessionId, message.id)
			if (stillOpen()) {
				history.remove(message.id)
				conversation.runGeneration(sessionId, res.replyTo ?? message.reply_to)
			}
		})
	}

	return { edit, regenerate, switchTo, continueAnswer }
}
