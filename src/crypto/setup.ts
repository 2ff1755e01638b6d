import type { Config } from '../config/config.js';
import { LocalKeyFile } from './key-file.js';
import { Keyring } from './keyring.js';

/**
 * The keyring for a process, from the configuration: the local key file as the KEK adapter,
 * created on the first start of a new installation (`create`), only opened afterwards.
 */
export function openKeyring(config: Config, options: { create: boolean }): Keyring {
  const kek = LocalKeyFile.open({ file: config.keys.file, passphrase: config.keys.passphrase, create: options.create });
  return new Keyring({ kek, cacheSize: config.keys.cacheSize, expectedPeople: config.keys.expectedPeople, callingCode: config.keys.phoneCountryCode });
}
