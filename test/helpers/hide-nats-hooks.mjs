// Resolve hook of hide-nats.mjs: @nats-io/* is "not installed".
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@nats-io/')) {
    const e = new Error(`Cannot find package '${specifier}' imported from ${context.parentURL}`);
    e.code = 'ERR_MODULE_NOT_FOUND';
    throw e;
  }
  return next(specifier, context);
}
