/**
 * The app's logger (Nextcloud's, tagged with the app id), for what a user does not need to see.
 */
import { getLoggerBuilder } from '@nextcloud/logger'

// The app id spelled out: config.js logs through here, so this module cannot import it from there.
export const logger = getLoggerBuilder().setApp('assistant_stream').build()
