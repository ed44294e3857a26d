/** Sent as `data_source` on every event: this package's name. A test keeps it equal to package.json. */
export const SDK_NAME = 'odp-sdk';
/** Sent as `data_source_version` on every event: this package's version. A test keeps it equal to package.json. */
export const SDK_VERSION = '0.1.0';
