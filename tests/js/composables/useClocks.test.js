import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { effectScope, nextTick, ref } from 'vue'
import { useCountdown } from '../../../src/composables/useCountdown.js'
import { useElapsed } from '../../../src/composables/useElapsed.js'

beforeEach(() => {
	vi.useFakeTimers()
	vi.setSystemTime(1_000_000)
})
afterEach(() => vi.useRealTimers())

describe('useElapsed', () => {
	test('ticks whole seconds while running, then holds the total', async () => {
		const since = ref(null)
		const took = ref(null)
		const scope = effectScope()
		const seconds = scope.run(() => useElapsed(() => since.value, () => took.value))
		expect(seconds.value).toBeNull()
		since.value = Date.now()
		await nextTick()
		expect(seconds.value).toBe(0)
		vi.advanceTimersByTime(2100)
		expect(seconds.value).toBe(2)
		took.value = 4600
		await nextTick()
		vi.advanceTimersByTime(5000)
		expect(seconds.value).toBe(5)
		scope.stop()
		expect(vi.getTimerCount()).toBe(0)
	})
})

describe('useCountdown', () => {
	test('counts down to zero, rounding up, and stops its timer', async () => {
		const deadline = ref(null)
		const scope = effectScope()
		const left = scope.run(() => useCountdown(() => deadline.value))
		expect(left.value).toBe(0)
		deadline.value = Date.now() + 2500
		await nextTick()
		expect(left.value).toBe(3)
		vi.advanceTimersByTime(600)
		expect(left.value).toBe(2)
		vi.advanceTimersByTime(2000)
		expect(left.value).toBe(0)
		expect(vi.getTimerCount()).toBe(0)
		scope.stop()
	})

	test('a deadline in the past means no wait', () => {
		const scope = effectScope()
		const left = scope.run(() => useCountdown(() => Date.now() - 10))
		expect(left.value).toBe(0)
		expect(vi.getTimerCount()).toBe(0)
		scope.stop()
	})
})
