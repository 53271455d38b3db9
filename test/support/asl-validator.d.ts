// asl-validator 4 ships JavaScript only; the part of its API the tests use.
declare module "asl-validator" {
  interface ValidationResult {
    isValid: boolean;
    errorsText(separator?: string): string;
  }
  export default function aslValidator(
    definition: unknown,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): ValidationResult;
}
