// The parts of three.js the cinemagraph3d web viewer uses (tree-shaken into one classic script).
export {
  REVISION, WebGLRenderer, Scene, Camera, Mesh, BufferGeometry, BufferAttribute, RawShaderMaterial,
  DataTexture, Texture, Matrix4, Vector2, Vector3, Vector4, Quaternion,
  LinearFilter, NearestFilter, ClampToEdgeWrapping, MirroredRepeatWrapping, RedFormat, RGFormat, RGBAFormat,
  UnsignedByteType, HalfFloatType, FloatType, NoColorSpace, LinearSRGBColorSpace, SRGBColorSpace,
  CustomBlending, AddEquation, OneFactor, OneMinusSrcAlphaFactor, GLSL3, DoubleSide,
} from "three";
