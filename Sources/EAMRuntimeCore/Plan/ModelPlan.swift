/// The forward pass a model runs, by architecture family.
enum ModelPlan {
  case vit(ViTPlan)
  case swin(SwinPlan)
}
