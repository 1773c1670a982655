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
	if (config.local || !window.OC) {
		// Outside Nextcloud: no server theme; styles.css supplies fallback CSS variables.
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
