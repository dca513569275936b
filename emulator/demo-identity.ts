/**
 * The identity `env()` hands out when the caller names none: fixed values so a demo's printed
 * environment is the same on every run and in every README example. They are not secrets; the
 * emulator accepts any client id and, unless `clientSecret` is set, any secret.
 */
export const DEMO_TENANT_ID = '6f1c2a8e-3b7d-4c9a-9e21-5d4b8a7c0f13';
export const DEMO_CLIENT_ID = 'b3e5d7a9-2c4f-4e6a-8b1d-9f0e2c4a6b8d';
export const DEMO_CLIENT_SECRET = 'emulator-demo-secret';
