import { describe, expect, test, vi } from 'vitest'
import { ref } from 'vue'
import { useAttachments } from '../../../src/composables/useAttachments.js'
import { deferred, reply } from '../fakes/server.js'

const server = () => globalThis.server
const chip = (id, name) => ({ id, name, kind: 'text', mime: 'text/plain', size: 3, source: 'files', fileId: 40 + id, path: `/${name}`, chars: 3, truncated: false })

describe('useAttachments', () => {
	test('a file from Files is read, then ready; its id goes with the message', async () => {
		const answer = deferred()
		server().on('POST /chat/attach_file', () => answer.promise)
		const a = useAttachments(ref(7), () => Promise.reject(new Error('not needed')))
		const attaching = a.fromFiles(['/Documents/notes.md'])
		expect(a.items.value.map((i) => [i.name, i.status])).toEqual([['notes.md', 'reading']])
		expect(a.reading.value).toBe(true)
		answer.resolve(chip(1, 'notes.md'))
		await attaching
		expect(a.items.value[0].status).toBe('ready')
		expect(a.readyIds.value).toEqual([1])
		expect(server().calls('POST /chat/attach_file')[0].body).toEqual({ sessionId: 7, path: '/Documents/notes.md' })
	})

	test('a refused file shows its error and is not sent', async () => {
		server().on('POST /chat/attach_file', reply({ error: 'The DOCX document looks like a zip bomb', code: 'file_bomb' }, 422))
		const a = useAttachments(ref(7), async () => 7)
		await a.fromFiles(['/bomb.docx'])
		expect(a.items.value[0]).toMatchObject({ status: 'error', error: { code: 'file_bomb' } })
		expect(a.readyIds.value).toEqual([])
	})

	test('without a conversation, one is made first', async () => {
		server().on('POST /chat/attach_file', (req) => chip(2, req.body.path.slice(1)))
		const session = ref(null)
		const ensure = vi.fn(async () => 11)
		const a = useAttachments(session, ensure)
		await a.fromFiles(['/a.txt'])
		expect(ensure).toHaveBeenCalledOnce()
		expect(server().calls('POST /chat/attach_file')[0].body.sessionId).toBe(11)
	})

	test('removing a file being read aborts it; removing a ready one deletes it on the server', async () => {
		server().on('POST /chat/attach_file', () => new Promise(() => {}))
		server().on('DELETE /chat/delete_attachment', {})
		const a = useAttachments(ref(7), async () => 7)
		const pending = a.fromFiles(['/slow.pdf'])
		await vi.waitFor(() => expect(server().calls('POST /chat/attach_file')).toHaveLength(1))
		await a.remove(a.items.value[0].key)
		await pending
		expect(server().calls('POST /chat/attach_file')[0].aborted).toBe(true)
		expect(a.items.value).toEqual([])

		server().on('POST /chat/attach_file', chip(3, 'done.md'))
		await a.fromFiles(['/done.md'])
		await a.remove(a.items.value[0].key)
		expect(server().calls('DELETE /chat/delete_attachment')[0].body).toEqual({ attachmentId: 3 })
	})
})
