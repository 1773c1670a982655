/**
 * What remains of the user's token budget (GET /chat/budget): read on start and after every answer.
 * A failed read keeps the last value (the chat itself works on); every promise settles.
 */
import { ref } from 'vue'
import * as api from '../api.js'

/**
 * @return {{ remaining: import('vue').Ref<number|null>, budget: import('vue').Ref<object|null>, refresh: () => Promise<void> }}
 */
export function useBudget() {
	const remaining = ref(null)
	const budget = ref(null)
	let pending = null

	/** Read it again (one request at a time). */
	async function refresh() {
		if (pending) {
			return pending
		}
		pending = api.myBudget()
			.then((body) => {
				remaining.value = body.remaining
				budget.value = body.budgets.find((b) => b.remaining === body.remaining) ?? null
			})
			.catch(() => {})
			.finally(() => { pending = null })
		return pending
	}

	return { remaining, budget, refresh }
}
