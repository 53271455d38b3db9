// js-yaml ships without types; the tests only parse the stack file with it.
declare module "js-yaml" {
  export function load(text: string): unknown;
}
