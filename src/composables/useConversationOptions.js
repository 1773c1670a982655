/**
 * The open conversation's options (model, system prompt, temperature, max tokens) and the presets to fill
 * them from. A choice made before the first message creates the conversation, so that it applies to it.
 */
import { shallowRef, watch } from 'vue'
import * as api from '../api.js'

const EMPTY = Object.freeze({ connection: null, model: null, system_prompt: null, temperature: null, max_tokens: null })

/**
 * @param {object} deps what it works with
 * @param {object} deps.conversation a useConversation()
 * @param {object} deps.banner a useErrorBanner()
 * @param {function(): Promise<number>} deps.ensureSession opens a new conversation when none is open (its id)
 * @return {object} options (ref), presets (ref), set(changes), loadPresets, savePreset, deletePreset
 */
export function useConversationOptions({ conversation, banner, ensureSession }) {
	const options = shallowRef(EMPTY)
	const presets = shallowRef({ shared: [], own: [] })
	let seq = 0

	watch(conversation.activeId, async (sessionId) => {
		const mine = ++seq
		options.value = EMPTY
		if (sessionId === null) {
			return
		}
		try {
			const loaded = await api.getSessionOptions(sessionId)
			if (mine === seq) {
				options.value = loaded.options
			}
		} catch {
			// The conversation shows the defaults; changing one will report the problem.
		}
	}, { immediate: true })

	/**
	 * @param {object} changes any of { connection, model, systemPrompt, temperature, maxTokens } (null: default)
	 * @return {Promise<boolean>} whether the server took them; never rejects
	 */
	async function set(changes) {
		try {
			const sessionId = await ensureSession()
			const saved = await api.setSessionOptions(sessionId, changes)
			if (conversation.activeId.value === sessionId) {
				options.value = saved.options
			}
			return true
		} catch (e) {
			banner.show(e)
			return false
		}
	}

	/** @return {Promise<void>} the shared and own presets; never rejects */
	async function loadPresets() {
		try {
			presets.value = await api.getPresets()
		} catch (e) {
			banner.show(e)
		}
	}

	/**
	 * @param {object} preset { id?, name, systemPrompt, temperature, maxTokens, connection, model }
	 * @return {Promise<object|null>} the saved preset, or null (the error is in the banner)
	 */
	async function savePreset(preset) {
		try {
			const saved = await api.savePreset(preset)
			await loadPresets()
			return saved
		} catch (e) {
			banner.show(e)
			return null
		}
	}

	/**
	 * @param {number} id one of the user's own presets
	 * @return {Promise<void>} never rejects
	 */
	async function deletePreset(id) {
		try {
			await api.deletePreset(id)
			await loadPresets()
		} catch (e) {
			banner.show(e)
		}
	}

	return { options, presets, set, loadPresets, savePreset, deletePreset }
}
