/** Sent as `data_source` / `data_source_version` on every event. A test keeps them equal to package.json. */
export const SDK_NAME = 'odp-sdk';
export const SDK_VERSION = '0.1.0';
