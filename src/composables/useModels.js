/**
 * The models users may choose (GET /chat/models), grouped by connection, loaded once per page and again
 * after an admin changed the connections.
 */
import { computed, shallowRef } from 'vue'
import * as api from '../api.js'

const catalog = shallowRef({ connections: [], default: null })
let loading = null

/**
 * @return {object} catalog (ref), groups, load(force), labelOf(connection, model), isOffered(connection, model)
 */
export function useModels() {
	/**
	 * @param {boolean} [force] read again even when already loaded
	 * @return {Promise<void>} never rejects (the picker then offers the default only)
	 */
	function load(force = false) {
		if (loading && !force) {
			return loading
		}
		loading = api.getModels()
			.then((data) => {
				catalog.value = data && Array.isArray(data.connections) ? data : { connections: [], default: null }
			})
			.catch(() => {
				loading = null
			})
		return loading
	}

	const groups = computed(() => catalog.value.connections)

	/**
	 * @param {string|null} connection a connection id
	 * @param {string|null} model a model name
	 * @return {boolean} whether the admin offers it
	 */
	function isOffered(connection, model) {
		return groups.value.some((g) => g.id === connection && g.models.includes(model))
	}

	/**
	 * @param {string|null} connection a connection id
	 * @param {string|null} model a model name
	 * @return {string} "model · connection name" (the model alone when there is one connection)
	 */
	function labelOf(connection, model) {
		const group = groups.value.find((g) => g.id === connection)
		return group && groups.value.length > 1 ? `${model} · ${group.name}` : (model || '')
	}

	return { catalog, groups, load, isOffered, labelOf }
}
