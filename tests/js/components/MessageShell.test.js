import { mount } from '@vue/test-utils'
import { describe, expect, test } from 'vitest'
import MessageShell from '../../../src/components/MessageShell.vue'

describe('MessageShell', () => {
	test('a stored answer: its status, badges, speed and usage, and the content slot', () => {
		const wrapper = mount(MessageShell, {
			props: {
				role: 'assistant',
				status: 'cancelled',
				messageId: 5,
				finishReason: 'length',
				tokensPerSecond: 41.25,
				usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
				transport: 'poll',
			},
			slots: { default: '<p class="body">Text</p>', actions: '<button class="act">Copy</button>' },
		})
		const root = wrapper.get('[data-test=message]')
		expect([root.attributes('data-role'), root.attributes('data-status'), root.attributes('data-message-id')])
			.toEqual(['assistant', 'cancelled', '5'])
		expect(wrapper.findAll('.as-badge').map((b) => b.attributes('data-test'))).toEqual(['badge-truncated', 'badge-stopped'])
		expect(wrapper.get('[data-test=tokens-per-second]').text()).toBe('41.3 tokens/s')
		expect(wrapper.get('[data-test=usage]').text()).toBe('7 tokens (3 in, 4 out)')
		// A finished answer says how it came only as an attribute: "Live" is no word for a finished message.
		expect(root.attributes('data-transport')).toBe('poll')
		expect(wrapper.find('[data-test=transport]').exists()).toBe(false)
		expect(wrapper.text()).not.toMatch(/Live|Polling/)
		expect(wrapper.get('.body').text()).toBe('Text')
		expect(wrapper.get('.as-message__actions .act').exists()).toBe(true)
		expect(wrapper.find('[data-test=streaming-message]').exists()).toBe(false)
	})

	test('the answer being generated: the stream\'s status on the body, busy while active', () => {
		const wrapper = mount(MessageShell, {
			props: { role: 'assistant', status: 'generating', streamStatus: 'streaming', busy: true, reasoning: 'Hm', thinking: true },
		})
		const body = wrapper.get('[data-test=streaming-message]')
		expect([body.attributes('data-stream-status'), body.attributes('aria-busy')]).toEqual(['streaming', 'true'])
		expect(wrapper.get('[data-test=message]').classes()).toContain('as-message--streaming')
		expect(wrapper.get('[data-test=reasoning] summary').text()).toBe('Thinking…')
		expect(wrapper.get('.as-reasoning__text').element.textContent).toBe('Hm')
	})

	test('reasoning: "Thinking… N s" live, then "Thought for N s"; the reader\'s open state is kept', async () => {
		const wrapper = mount(MessageShell, {
			props: { role: 'assistant', status: 'generating', streamStatus: 'waiting', busy: true, reasoning: 'Hm', thinking: true, thinkingSeconds: 3, transport: 'sse' },
		})
		expect(wrapper.get('[data-test=reasoning-summary]').text()).toBe('Thinking… 3 s')
		expect(wrapper.get('[data-test=transport]').attributes('data-transport')).toBe('sse')
		const details = wrapper.get('[data-test=reasoning]')
		details.element.open = true
		await details.trigger('toggle')
		expect(wrapper.emitted('update:reasoningOpen').at(-1)).toEqual([true])
		await wrapper.setProps({ status: 'done', streamStatus: 'done', busy: false, thinking: false, thinkingSeconds: 7, reasoningOpen: true })
		expect(wrapper.get('[data-test=reasoning-summary]').text()).toBe('Thought for 7 s')
		expect(details.element.open).toBe(true)
		await wrapper.setProps({ thinkingSeconds: null })
		expect(wrapper.get('[data-test=reasoning-summary]').text()).toBe('Reasoning')
	})

	test('the model stays on an answer', () => {
		const wrapper = mount(MessageShell, { props: { role: 'assistant', status: 'done', model: 'gpt-4o-mini', subtitle: '10:12' } })
		expect(wrapper.get('[data-test=model]').text()).toBe('gpt-4o-mini')
	})

	test('a question is the user\'s: no speed or usage shown', () => {
		const wrapper = mount(MessageShell, { props: { role: 'human', status: 'done', tokensPerSecond: 3, usage: { total_tokens: 2 } } })
		expect(wrapper.get('.as-message__author').text()).toBe('You')
		expect(wrapper.find('[data-test=tokens-per-second]').exists()).toBe(false)
		expect(wrapper.find('[data-test=usage]').exists()).toBe(false)
	})
})
