/**
 * The Files picker as its own classic script (js/assistant_stream-picker.js + .css), loaded on demand by
 * src/picker/load.js; same build settings as vite.config.js otherwise.
 */
import { defineConfig, mergeConfig } from 'vite'
import base from './vite.config.js'

export default defineConfig((env) => mergeConfig(base(env), {
	build: {
		rollupOptions: {
			input: 'src/picker/main.js',
			output: {
				name: 'AssistantStreamPickerBundle',
				entryFileNames: 'assistant_stream-picker.js',
				assetFileNames: (asset) => {
					const name = asset.names?.[0] ?? asset.name ?? ''
					return name.endsWith('.css') ? 'assistant_stream-picker.css' : 'assistant_stream-picker-[name][extname]'
				},
			},
		},
	},
}))
