// kafkajs's table of broker error codes (not part of its typed API); the part we use.
declare module 'kafkajs/src/protocol/error' {
  export const errorCodes: { type: string; code: number; retriable: boolean; message: string }[];
}
