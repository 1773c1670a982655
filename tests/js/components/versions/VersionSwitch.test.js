import { mount } from '@vue/test-utils'
import { describe, expect, test } from 'vitest'
import MessageEditor from '../../../../src/components/versions/MessageEditor.vue'
import VersionSwitch from '../../../../src/components/versions/VersionSwitch.vue'

describe('VersionSwitch', () => {
	test('shows which version of how many, and asks for the one before or after', async () => {
		const wrapper = mount(VersionSwitch, { props: { messageId: 7, ids: [3, 7, 9] } })
		expect(wrapper.get('[data-test=version-count]').text()).toBe('2/3')
		await wrapper.get('[data-test=version-previous]').trigger('click')
		await wrapper.get('[data-test=version-next]').trigger('click')
		expect(wrapper.emitted('switch')).toEqual([[3], [9]])
	})

	test('the ends and a disabled switch offer no move', async () => {
		const first = mount(VersionSwitch, { props: { messageId: 3, ids: [3, 7] } })
		expect(first.get('[data-test=version-previous]').attributes('disabled')).toBeDefined()
		expect(first.get('[data-test=version-next]').attributes('disabled')).toBeUndefined()
		const off = mount(VersionSwitch, { props: { messageId: 3, ids: [3, 7], disabled: true } })
		expect(off.get('[data-test=version-next]').attributes('disabled')).toBeDefined()
	})
})

describe('MessageEditor', () => {
	test('saves a changed text only, and Escape cancels', async () => {
		const wrapper = mount(MessageEditor, { props: { text: 'Old question' } })
		const area = wrapper.get('[data-test=edit-input]')
		expect(area.element.value).toBe('Old question')
		expect(wrapper.get('[data-test=edit-save]').attributes('disabled')).toBeDefined()
		await area.setValue('  New question ')
		await wrapper.get('form').trigger('submit')
		await area.trigger('keydown', { key: 'Escape' })
		expect(wrapper.emitted('save')).toEqual([['New question']])
		expect(wrapper.emitted('cancel')).toHaveLength(1)
	})
})
