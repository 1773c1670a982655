/**
 * The chat page's state, made once by ChatApp and handed to its components with provide/inject
 * (no props drilled through the layers): the error banner, the sessions, the open conversation.
 */
import { inject, provide, reactive, ref, watch } from 'vue'
import * as api from '../api.js'
import { getConfig } from '../config.js'
import { useAttachments } from './useAttachments.js'
import { useConversation } from './useConversation.js'
import { useConversationOptions } from './useConversationOptions.js'
import { useDocuments } from './useDocuments.js'
import { useErrorBanner } from './useErrorBanner.js'
import { useSessions } from './useSessions.js'
import { useVersions } from './useVersions.js'

const CHAT = Symbol('assistant_stream.chat')

/**
 * @return {object} the chat: { config, banner, sessions, conversation, attachments, documents, versions, options,
 *   init, newConversation, removeSession }
 */
export function useChat() {
	// Reactive: whether the user is an administrator is learnt after the page has loaded (init()).
	const config = reactive(getConfig())
	const banner = useErrorBanner()
	const followedId = ref(null)
	const sessions = useSessions(banner, { followedId })
	const conversation = useConversation({ sessions, banner })
	const attachments = useAttachments(conversation.activeId, conversation.ensureSession)
	const documents = useDocuments({ sessions, conversation, banner })
	// Files attached but not sent belong to the conversation they were attached in.
	watch(conversation.activeId, (now, before) => {
		if (before !== null) {
			attachments.clear()
		}
	})
	watch(conversation.generatingId, (id) => {
		followedId.value = id
	})
	const versions = useVersions({ conversation, banner })
	const options = useConversationOptions({ conversation, banner, ensureSession: conversation.ensureSession })

	/** @return {Promise<void>} load the sessions and open the newest; never rejects */
	async function init() {
		if (!config.local) {
			documents.load()
			if (!config.isAdmin) {
				// AppAPI serves one initial state to every user (isAdmin false): the admin tools (administration,
				// delivery check, error details) show once the user's own config says so. Their routes check again.
				api.userConfig().then((mine) => {
					config.isAdmin = mine?.isAdmin === true
				}, () => {})
			}
		}
		await sessions.load()
		if (sessions.sessions.value.length > 0 && conversation.activeId.value === null) {
			await conversation.open(sessions.sessions.value[0].id)
		}
	}

	/**
	 * Open a new, empty conversation. An empty one already open is reused: they do not pile up.
	 *
	 * @return {Promise<boolean>} whether an empty conversation is open; never rejects
	 */
	async function newConversation() {
		if (conversation.activeId.value !== null && conversation.isEmpty.value) {
			return true
		}
		// An empty, untitled one in the list (from another tab, or left behind) is reused: no pile of them.
		const unused = sessions.sessions.value.find((s) => s.empty && !s.title && s.id !== conversation.activeId.value)
		if (unused) {
			await conversation.open(unused.id)
			return true
		}
		try {
			const session = await sessions.create()
			await conversation.open(session.id)
			return true
		} catch (e) {
			banner.show(e)
			return false
		}
	}

	/**
	 * @param {number} sessionId the session to delete; when it is open, the next one opens
	 * @return {Promise<void>} never rejects
	 */
	async function removeSession(sessionId) {
		if (!await sessions.remove(sessionId)) {
			return
		}
		conversation.forgetSession(sessionId)
		if (conversation.activeId.value === sessionId) {
			await conversation.open(sessions.sessions.value[0]?.id ?? null)
		}
	}

	return { config, banner, sessions, conversation, attachments, documents, versions, options, init, newConversation, removeSession }
}

/**
 * Make the chat and provide it to every component below the caller.
 *
 * @return {object} the useChat()
 */
export function provideChat() {
	const chat = useChat()
	provide(CHAT, chat)
	return chat
}

/**
 * @return {object} the useChat() that an ancestor provided
 */
export function injectChat() {
	const chat = inject(CHAT, null)
	if (chat === null) {
		throw new Error('assistant_stream: injectChat() outside a ChatApp')
	}
	return chat
}
