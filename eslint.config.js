/**
 * ESLint: Nextcloud's shared flat config for JavaScript and Vue 3 (@nextcloud/eslint-config 9),
 * over src/, the Vitest tests and the build files.
 */
import { recommendedJavascript } from '@nextcloud/eslint-config'

export default [
	{
		ignores: ['js/**', 'lib/**', 'docs/**', 'bench/**', 'tests/artifacts/**'],
	},
	...recommendedJavascript,
]
