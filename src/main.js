/**
 * Entry point. Mounts on `#assistant-stream-app` (the ExApp's local page in `make run` mode)
 * or on `#content` (Nextcloud's embedded page /index.php/apps/app_api/embedded/assistant_stream/chat).
 */
import { createApp } from 'vue'
import ChatApp from './components/ChatApp.vue'
import { getConfig } from './config.js'
import { logger } from './logger.js'

import './styles.css'

const target = document.getElementById('assistant-stream-app') || document.getElementById('content')

if (target) {
	const config = getConfig()
	if (config.local) {
		// The ExApp's own local page (the server says so in the initial state): no Nextcloud theme or header,
		// styles.css supplies fallback CSS variables. Not window.OC: Nextcloud's embedded page may lack it (a
		// trimmed server, a script that failed) and the chat must still leave Nextcloud's header alone.
		document.documentElement.classList.add('assistant-stream--standalone')
	}
	// NcContent teleports its "skip to content" links into #skip-actions, which Nextcloud's page
	// layout provides; the local page does not have it.
	if (!document.getElementById('skip-actions')) {
		const skip = document.createElement('div')
		skip.id = 'skip-actions'
		document.body.prepend(skip)
	}
	createApp(ChatApp).mount(target)
} else {
	logger.error('no #assistant-stream-app or #content element to mount on')
}
