/**
 * The open conversation: which session is shown, its history, and the answer being generated.
 * Opening a session re-attaches to an answer still running on the server; switching away leaves
 * it running there. Late results of an older switch are dropped.
 */
import { computed, ref, shallowRef } from 'vue'
import * as api from '../api.js'
import { Status } from '../status.js'
import { useGeneration } from './useGeneration.js'
import { PAGE_SIZE, useHistory } from './useHistory.js'
import { useMessageDeletion } from './useMessageDeletion.js'
import { useTitleGeneration } from './useTitleGeneration.js'

/**
 * @param {object} deps what the conversation works with
 * @param {object} deps.sessions a useSessions()
 * @param {object} deps.banner a useErrorBanner()
 * @return {object} the conversation's state and actions
 */
export function useConversation({ sessions, banner }) {
	const history = useHistory(banner)
	const generation = useGeneration()
	const titles = useTitleGeneration()
	const deletion = useMessageDeletion({ history, banner })
	const activeId = history.sessionId
	const loadingMessages = ref(false)
	const sending = ref(false)
	/** the reader opened the reasoning of the answer being generated: it stays open when the answer is stored */
	const reasoningOpen = ref(false)
	/** the last answer that ended in the open session: { status, message, error } (AnswerAnnouncer reads it) */
	const finished = shallowRef(null)
	/** Increases on every switch of session: late answers for an older switch are dropped. */
	let openSeq = 0

	const answering = computed(() => generation.sessionId.value === activeId.value)
	/** the session whose answer this page is generating, or null */
	const generatingId = computed(() => (generation.isActive.value ? generation.sessionId.value : null))
	const showStreaming = computed(() => generation.status.value !== Status.IDLE && answering.value)
	const busy = computed(() => sending.value || (generation.isActive.value && answering.value))
	const isEmpty = computed(() => history.messages.value.length === 0 && !showStreaming.value && !history.hasOlder.value)

	/**
	 * @param {number|null} sessionId the session to show (null: none)
	 * @return {Promise<void>} never rejects
	 */
	async function open(sessionId) {
		if (sessionId === activeId.value && !loadingMessages.value) {
			return
		}
		const seq = ++openSeq
		deletion.flush()
		if (generation.sessionId.value !== sessionId) {
			// Leave the other session's answer running on the server; re-attach when it is opened again.
			// Its spinner in the list stays until the server says it is done.
			if (generation.isActive.value && generation.sessionId.value !== null) {
				sessions.setGenerating(generation.sessionId.value, true)
			}
			generation.reset()
		}
		history.reset(sessionId)
		banner.clear()
		if (sessionId === null) {
			return
		}
		loadingMessages.value = true
		try {
			const [page, state] = await Promise.all([
				history.fetchPage(sessionId, 0),
				api.checkSession(sessionId).catch(() => null),
			])
			if (seq !== openSeq) {
				return
			}
			if (state?.sessionTitle) {
				sessions.setGeneratedTitle(sessionId, state.sessionTitle)
			}
			const running = await runningAnswer(sessionId, page, state?.messageTaskId ?? null)
			if (seq !== openSeq) {
				return
			}
			history.show(running ? page.filter((m) => m.id !== running.id) : page, page.length === PAGE_SIZE)
			sessions.setGenerating(sessionId, false) // this page follows it now
			if (running) {
				runGeneration(sessionId, running.reply_to)
			}
		} catch (e) {
			if (seq === openSeq) {
				banner.show(e, () => open(sessionId))
			}
		} finally {
			if (seq === openSeq) {
				loadingMessages.value = false
			}
		}
	}

	/**
	 * @param {number} sessionId the session
	 * @param {object[]} page its newest messages
	 * @param {number|null} taskId the answer the server is generating in it, if any
	 * @return {Promise<object|null>} that answer's message when this page should attach to it
	 */
	async function runningAnswer(sessionId, page, taskId) {
		if (taskId === null || generation.isActive.value) {
			return null
		}
		const running = page.find((m) => m.id === taskId)
			?? await api.getMessage(sessionId, taskId).catch(() => null)
		return running?.reply_to ? running : null
	}

	/**
	 * The open session, or a new one opened now (a question or a file needs one).
	 *
	 * @return {Promise<number>} the session id; rejects when it cannot be created
	 */
	async function ensureSession() {
		if (activeId.value !== null) {
			return activeId.value
		}
		const sessionId = (await sessions.create()).id
		++openSeq
		history.reset(sessionId)
		return sessionId
	}

	/**
	 * Store a question in the open session (a new one when none is open) and stream its answer.
	 *
	 * @param {string} content the question
	 * @param {number[]} [attachments] ids of the files sent with it
	 * @return {Promise<boolean>} whether the question was stored; never rejects
	 */
	async function send(content, attachments = []) {
		banner.clear()
		sending.value = true
		try {
			await deletion.flush() // the answer must not see a message the user deleted
			const sessionId = await ensureSession()
			const first = !history.hasOlder.value && !history.messages.value.some((m) => m.role === 'human')
			const message = await api.newMessage(sessionId, content, first, attachments)
			if (activeId.value === sessionId) {
				history.put(message)
			}
			sessions.touch(sessionId)
			if (first) {
				// message.content: a question made of files only gets its text from the server
				sessions.setProvisionalTitle(sessionId, message.content)
				titles.expect(sessionId)
			}
			sending.value = false
			runGeneration(sessionId, message.id)
			return true
		} catch (e) {
			banner.show(e)
			return false
		} finally {
			sending.value = false
		}
	}

	/**
	 * Stream the answer to a human message, then put the final message into the history.
	 *
	 * @param {number} sessionId the session
	 * @param {number} humanId the human message being answered
	 * @return {Promise<void>} never rejects
	 */
	async function runGeneration(sessionId, humanId) {
		reasoningOpen.value = false
		const result = await generation.start(sessionId, humanId)
		if (result.status === Status.DETACHED) {
			return
		}
		let message = result.message
		if (!message && generation.messageId.value) {
			message = await api.getMessage(sessionId, generation.messageId.value).catch(() => null)
		}
		if (message && result.status === Status.CANCELLED && !message.content && generation.text.value) {
			// keep the partial text that was shown
			message = { ...message, content: generation.text.value }
		}
		if (generation.sessionId.value !== sessionId || generation.humanMessageId.value !== humanId) {
			return // a newer answer took over
		}
		if (message && activeId.value === sessionId) {
			const thought = generation.reasoning.value || reasoningOpen.value
				? { ms: generation.thinkingMs.value, open: reasoningOpen.value }
				: null
			history.put(message, { transport: result.transport, error: result.error, thought })
			finished.value = { status: result.status, message, error: result.error }
		} else if (!message && result.error && activeId.value === sessionId) {
			// Nothing was stored (e.g. rate limited, not configured): say so, offer a retry.
			banner.show(result.error, () => runGeneration(sessionId, humanId))
		}
		generation.reset()
		sessions.setGenerating(sessionId, false)
		titles.afterAnswer(sessionId, result.status, (title) => sessions.setGeneratedTitle(sessionId, title))
	}

	/** @return {Promise<void>} asks the server to stop the answer; never rejects */
	async function stop() {
		const result = await generation.stop()
		if (!result.ok && result.error) {
			banner.show(result.error)
		}
	}

	/** @return {Promise<void>} show the open session again from the server (its branch changed); never rejects */
	async function reload() {
		const sessionId = activeId.value
		if (sessionId !== null) {
			history.reset(null)
			await open(sessionId)
		}
	}

	/**
	 * Forget a deleted session: no title for it, no answer streamed for it.
	 *
	 * @param {number} sessionId the session
	 */
	function forgetSession(sessionId) {
		titles.forget(sessionId)
		if (generation.sessionId.value === sessionId) {
			generation.reset()
		}
	}

	return {
		ensureSession,
		history,
		generation,
		activeId,
		loadingMessages,
		sending,
		reasoningOpen,
		finished,
		generatingId,
		showStreaming,
		busy,
		isEmpty,
		open,
		reload,
		send,
		runGeneration,
		stop,
		deletion,
		/** @param {object} message a stored message the user confirmed to delete (undo: deletion.undo) */
		removeMessage: deletion.remove,
		forgetSession,
	}
}
